"""The file formats of one signal record each (the folder layout): one module per format,
each defining `DECODER`, whose `decode` gives the record as float64 (length, channels)."""
