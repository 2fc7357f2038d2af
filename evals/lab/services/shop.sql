-- The lab shop's SQL (shop-web's queries and the schema the lab loads once), by name.

-- name: product_by_id
SELECT id, name, price FROM products WHERE id = ?

-- name: order_by_id
SELECT id, product_id, qty, status FROM orders WHERE id = ?

-- name: insert_order
INSERT INTO orders (product_id, qty, trace_id) VALUES (?, ?, ?)

-- name: schema_database
CREATE DATABASE IF NOT EXISTS shop

-- name: schema_products
CREATE TABLE IF NOT EXISTS shop.products (id INT PRIMARY KEY, name VARCHAR(80) NOT NULL, price DECIMAL(10,2) NOT NULL)

-- name: schema_orders
CREATE TABLE IF NOT EXISTS shop.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, product_id INT NOT NULL, qty INT NOT NULL, status VARCHAR(16) NOT NULL DEFAULT 'new', trace_id CHAR(32), created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), KEY (product_id))

-- name: schema_user
CREATE USER IF NOT EXISTS 'shop'@'%' IDENTIFIED BY 'shop-lab'

-- name: schema_grant
GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'shop'@'%'

-- name: seed_product
INSERT IGNORE INTO shop.products VALUES (?, ?, ?)

-- name: seed_order
INSERT INTO shop.orders (product_id, qty, status) VALUES (?, ?, 'shipped')

-- name: reset_binlog
RESET MASTER
