"""Core: settings, domain types, positioning, geofences, alert rules, DB schema. Imports no framework."""
