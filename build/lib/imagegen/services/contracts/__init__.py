"""One contract per service: an ABC with declared methods and its records."""
