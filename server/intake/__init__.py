"""How a request's image gets in: its forms (``forms``) and the one safe opening
of a file (``files``)."""
