"""The image file formats: one module per format, each defining `DECODER` (an
`dltrain.kinds.images.ImageDecoder`); found by `dltrain.kinds.decoders.discover`."""
