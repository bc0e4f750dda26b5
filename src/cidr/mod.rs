//! CIDR networks, interfaces and address sets with Python `ipaddress` parity (recipe 4).
