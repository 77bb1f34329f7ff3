DROP TABLE agent_epochs;
DROP TABLE agent_link;
DROP TABLE register_refusals;
DROP TABLE register_marks;
