"""Firewalls: policy (pure: who may reach what) -> rules -> backends (iptables, ufw, native) -> apply."""
