"""The live map page at `/map`: a static HTML/JS/CSS page (no build step, no external tiles or CDNs) that reads
the REST API and the live WebSockets with the API key given in its URL (`/map?api_key=…`)."""
