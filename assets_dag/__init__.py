"""assets_dag package."""
