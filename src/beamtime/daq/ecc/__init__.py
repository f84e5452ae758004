"""Talking to GET electronics' ECC servers over SOAP: the protocol, a client, a simulator."""
