/* broker/host.c: to be written */
