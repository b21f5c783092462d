
=
USER:ValueError&Traceback: partitions must be positive 