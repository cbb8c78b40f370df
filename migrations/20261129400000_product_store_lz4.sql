-- The product store's large JSON columns are compressed with lz4 rather than pglz:
-- several times faster to write (the dump import spends much of its database time
-- compressing `images` and `nutriments`) for a similar size. Applies to values
-- written from now on. Servers built without lz4 keep pglz.
DO $$
BEGIN
    ALTER TABLE product
        ALTER COLUMN images SET COMPRESSION lz4,
        ALTER COLUMN packagings SET COMPRESSION lz4,
        ALTER COLUMN nutriments SET COMPRESSION lz4,
        ALTER COLUMN extra SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available; the product store keeps pglz compression';
END $$;
