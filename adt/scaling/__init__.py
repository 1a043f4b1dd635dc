"""Scaling: the scaling profile (how many webservers each autoscaler keeps), the decisions (a pure state machine
per webserver) and the autoscaler's cycle that observes the fleet, decides and acts."""
