DROP TABLE sync_status;
DROP TABLE node_epochs;
DROP TABLE sync_acks;
