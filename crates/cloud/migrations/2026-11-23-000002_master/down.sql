DROP TABLE master_conflicts, master_changes, store_products;
