// Package deploy holds what runs beside the gateway: the Grafana dashboard
// (grafana/capibridge.json) and the Prometheus alert rules
// (prometheus/alerts.yaml). It has no code; its tests check both files
// against the collectors that metrics.New registers.
package deploy
