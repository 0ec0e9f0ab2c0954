"""Services: what runs the components together (the embedded stack, provisioning,
the demo, simulated traffic). Above the components, below the CLI."""
