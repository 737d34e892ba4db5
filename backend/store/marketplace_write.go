package store

import "context"

// CreateServiceBroker, CreateServiceOffering and CreateServicePlan insert
// the marketplace a broker's catalog describes; a row already there is
// ErrConflict.
func (s *Store) CreateServiceBroker(ctx context.Context, b ServiceBroker) error {
	return s.exec(ctx, `INSERT INTO service_brokers (guid, name, url, labels, annotations, created_at, updated_at) VALUES (?,?,?,?,?,?,?)`,
		b.GUID, b.Name, b.URL, jsonText(nonNil(b.Labels)), jsonText(nonNil(b.Annotations)), b.CreatedAt, b.UpdatedAt)
}

// CreateServiceOffering inserts a service offering.
func (s *Store) CreateServiceOffering(ctx context.Context, o ServiceOffering) error {
	return s.exec(ctx, `INSERT INTO service_offerings (guid, broker_guid, name, unique_id, description, active, bindable, plan_updateable,
		instances_retrievable, bindings_retrievable, allow_context_updates, tags, requires, extra, labels, annotations, created_at, updated_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, o.GUID, o.BrokerGUID, o.Name, o.UniqueID, o.Description, o.Active, o.Bindable,
		o.PlanUpdateable, o.InstancesRetrievable, o.BindingsRetrievable, o.AllowContextUpdates, jsonText(nonNilList(o.Tags)),
		jsonText(nonNilList(o.Requires)), o.Extra, jsonText(nonNil(o.Labels)), jsonText(nonNil(o.Annotations)), o.CreatedAt, o.UpdatedAt)
}

// CreateServicePlan inserts a service plan and its organization visibilities.
func (s *Store) CreateServicePlan(ctx context.Context, p ServicePlan, orgs ...string) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO service_plans (guid, offering_guid, name, unique_id, description, free, active, public,
			bindable, plan_updateable, maximum_polling_duration, extra, create_instance_schema, update_instance_schema, create_binding_schema,
			labels, annotations, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, p.GUID, p.OfferingGUID, p.Name,
			p.UniqueID, p.Description, p.Free, p.Active, p.Public, p.Bindable, p.PlanUpdateable, p.MaximumPollingDuration, p.Extra,
			p.CreateInstanceSchema, p.UpdateInstanceSchema, p.CreateBindingSchema, jsonText(nonNil(p.Labels)), jsonText(nonNil(p.Annotations)),
			p.CreatedAt, p.UpdatedAt)
		if err != nil {
			return err
		}
		for _, o := range orgs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO service_plan_visibilities (plan_guid, org_guid) VALUES (?,?)`, p.GUID, o); err != nil {
				return err
			}
		}
		return nil
	})
}

// exec runs one statement as a write.
func (s *Store) exec(ctx context.Context, query string, args ...any) error {
	return s.write(ctx, func(tx *cachedTx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
}
