sp-0a1b2c3d4ed*
spark