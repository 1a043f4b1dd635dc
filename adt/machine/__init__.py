"""What runs on a machine of each role: its first-boot bootstrap and its checks. The same code runs on
every cloud host; on `local` the driver starts it inside the machine's namespaces."""
