"""Shipping the batch to Amazon EMR: the one step list (steps), the requests built
from it for EMR on EC2 and EMR Serverless (aws_calls), the entry script of every
step (entry), and the local runner that runs the same steps in one session (local)."""
