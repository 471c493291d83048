/* broker/endpoint.c: to be written */
