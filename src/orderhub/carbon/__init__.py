"""Carbon: emission factors with provenance, the ISO 14083 / GLEC shipment calculator, order
footprints, greener delivery options and reward points."""
