"""Track algorithms free of Django: ground distances, cleaning of GPS fixes, splitting into
patrols (trips) and stops, and simplification for display. Arrays in, arrays out (numpy)."""
