"""The built-in Kubernetes types: one description for validation, OpenAPI, patches, protobuf."""
