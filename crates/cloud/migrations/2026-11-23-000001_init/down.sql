DROP TABLE stock_levels, stock_movements, orders, alarms, rejected_events, pending_events, inbox, stream_marks, sync_acks, store_epochs, stores;
