"""The file formats of one text each (the folder layouts): one module per format, each
defining `DECODER`, whose `decode` gives the text as a str."""
