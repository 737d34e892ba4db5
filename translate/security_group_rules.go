package translate

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// v3 reports a bad rule as "Rules[<i>]: <problem>"; v2's SecurityGroup
// model as "rules rule number <i+1> <text>" with the texts of CC's rule
// validators (cc:app/models/runtime/security_group.rb#validate_rules,
// lib/cloud_controller/rule_validator.rb, transport_rule_validator.rb,
// icmp_rule_validator.rb).

var v3Rule = regexp.MustCompile(`Rules\[(\d+)\]: `)

// v2RuleText maps one v3 rule problem to the v2 validator's text.
func v2RuleText(problem string) string {
	switch {
	case strings.HasPrefix(problem, "protocol must be"):
		return "contains an unsupported protocol"
	case strings.HasPrefix(problem, "ports are required"):
		return "missing required field 'ports'"
	case strings.HasPrefix(problem, "ports are not allowed"):
		return "contains the invalid field 'ports'"
	case strings.HasPrefix(problem, "ports"):
		return "contains invalid ports"
	case strings.HasPrefix(problem, "log"):
		return "contains invalid log value"
	case strings.HasPrefix(problem, "description"):
		return "contains invalid description"
	case strings.HasPrefix(problem, "type"):
		return "contains invalid type"
	case strings.HasPrefix(problem, "code"):
		return "contains invalid code"
	case strings.HasPrefix(problem, "unknown field(s): "):
		var fields []string
		for _, f := range strings.Split(strings.Trim(strings.TrimPrefix(problem, "unknown field(s): "), "[]"), ", ") {
			fields = append(fields, "contains the invalid field '"+strings.Trim(f, `"`)+"'")
		}
		return strings.Join(fields, "\x00")
	case strings.HasPrefix(problem, "must be an object"):
		return ""
	}
	return "contains invalid destination"
}

// securityGroupRulesDetail rewrites v3's rule problems in detail as v2's
// full messages, joined as CC joins them; ok is false when detail names
// no rule.
func securityGroupRulesDetail(detail string) (string, bool) {
	locs := v3Rule.FindAllStringSubmatchIndex(detail, -1)
	if len(locs) == 0 {
		return "", false
	}
	var out []string
	for k, loc := range locs {
		end := len(detail)
		if k+1 < len(locs) {
			end = locs[k+1][0]
		}
		problem := strings.TrimSuffix(strings.TrimSpace(detail[loc[1]:end]), ",")
		i, _ := strconv.Atoi(detail[loc[2]:loc[3]])
		for _, text := range strings.Split(v2RuleText(problem), "\x00") {
			msg := "rules rule number " + strconv.Itoa(i+1) + " " + text
			if text != "" && !slices.Contains(out, msg) {
				out = append(out, msg)
			}
		}
	}
	return strings.Join(out, ", "), len(out) > 0
}
