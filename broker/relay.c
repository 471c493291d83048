/* broker/relay.c: to be written */
