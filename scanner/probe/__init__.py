"""The only code that touches sockets and sslyze; everything it finds comes out as `scanner.models`."""
