"""The file formats of one volume each (the folder layout): one module per format, each
defining `DECODER`, whose `decode` gives the volume as (depth, height, width, channels)."""
