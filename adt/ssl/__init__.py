"""TLS certificates: one issuer on the build machine (ACME, DNS-01 through adt's DNS), publication to the ssl bucket
and the config bucket, and each webserver's install of a new pair (`pair` is the shared, pure core)."""
