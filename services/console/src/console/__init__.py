"""The web console: a backend-for-frontend that owns no data and renders the six services' APIs."""
