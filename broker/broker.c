/* broker/broker.c: to be written */
