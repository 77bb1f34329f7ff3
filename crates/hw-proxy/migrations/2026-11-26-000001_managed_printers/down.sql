DROP TABLE managed_printers;
