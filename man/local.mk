dist_man_MANS += %reldir%/brokerd.8 %reldir%/brokerctl.1 %reldir%/broker.conf.5 %reldir%/broker-plugin.7 %reldir%/broker-link.7
