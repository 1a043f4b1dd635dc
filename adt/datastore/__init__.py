"""The S3 datastore: bucket naming (pure), endpoints, one client factory, the configuration datastore."""
