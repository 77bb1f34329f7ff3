//! Diesel table definitions matching `migrations/{postgres,sqlite}/*/up.sql`.
//! Kept by hand beside the migrations; the storage tests exercise every table on
//! both backends, so a column that drifts fails there.
// @generated-style table macros; edit together with the migrations.

diesel::table! {
    node (id) {
        id -> Integer,
        store_id -> Text,
        node_epoch -> Text,
        master_version -> BigInt,
        hlc_floor -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    companies (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        tax_id -> Text,
    }
}

diesel::table! {
    stores (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        currency -> Text,
        utc_offset_minutes -> Integer,
        default_company_id -> Text,
        locale -> Text,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        store_id -> Text,
        register_no -> Integer,
        name -> Text,
        kind -> Text,
        token_hash -> Text,
        last_seq -> BigInt,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    staff (id) {
        id -> Text,
        store_id -> Text,
        name -> Text,
        role -> Text,
        pin_hash -> Text,
        active -> Bool,
        created_at -> BigInt,
        updated_hlc -> BigInt,
        pins_unlocked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    price_list_versions (version) {
        version -> Text,
        effective_at -> BigInt,
        prices -> Text,
        received_at -> BigInt,
        applied_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    pin_attempts (staff_id,device_key) {
        staff_id -> Text,
        device_key -> Text,
        failures -> Integer,
        locked_until -> BigInt,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Text,
        staff_id -> Text,
        device_id -> Nullable<Text>,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    tax_categories (id) {
        id -> Text,
        code -> Text,
        name -> Text,
        rate_ppm -> BigInt,
        mode -> Text,
    }
}

diesel::table! {
    products (id) {
        id -> Text,
        company_id -> Text,
        sku -> Text,
        name -> Text,
        price_minor -> BigInt,
        tax_category_id -> Text,
        weighed -> Bool,
        kitchen -> Bool,
        active -> Bool,
        version -> BigInt,
        updated_hlc -> BigInt,
        search_key -> Nullable<Text>,
        category -> Text,
        favourite -> Bool,
    }
}

diesel::table! {
    barcodes (code) {
        code -> Text,
        product_id -> Text,
    }
}

diesel::table! {
    customers (id) {
        id -> Text,
        name -> Text,
        phone -> Text,
        email -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    shifts (id) {
        id -> Text,
        device_id -> Text,
        business_day -> Text,
        opened_by -> Text,
        opened_at -> BigInt,
        opening_float_minor -> BigInt,
        closed_by -> Nullable<Text>,
        closed_at -> Nullable<BigInt>,
        counted_cash_minor -> Nullable<BigInt>,
        expected_cash_minor -> Nullable<BigInt>,
        version -> BigInt,
    }
}

diesel::table! {
    cash_movements (id) {
        id -> Text,
        shift_id -> Text,
        amount_minor -> BigInt,
        reason -> Text,
        staff_id -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    orders (id) {
        id -> Text,
        number -> Text,
        device_id -> Text,
        shift_id -> Text,
        business_day -> Text,
        company_id -> Text,
        staff_id -> Text,
        customer_id -> Nullable<Text>,
        status -> Text,
        currency -> Text,
        subtotal_minor -> BigInt,
        discount_minor -> BigInt,
        tax_minor -> BigInt,
        total_minor -> BigInt,
        refunded_minor -> BigInt,
        needs_adjustment -> Bool,
        note -> Text,
        created_at -> BigInt,
        hlc -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    order_lines (id) {
        id -> Text,
        order_id -> Text,
        line_no -> Integer,
        product_id -> Text,
        company_id -> Text,
        sku -> Text,
        name -> Text,
        qty_milli -> BigInt,
        list_price_minor -> BigInt,
        unit_price_minor -> BigInt,
        gross_minor -> BigInt,
        line_discount_minor -> BigInt,
        order_discount_minor -> BigInt,
        net_minor -> BigInt,
        tax_minor -> BigInt,
        total_minor -> BigInt,
        tax_ppm -> BigInt,
        tax_mode -> Text,
        refunded_milli -> BigInt,
    }
}

diesel::table! {
    payments (id) {
        id -> Text,
        order_id -> Text,
        kind -> Text,
        method -> Text,
        amount_minor -> BigInt,
        tendered_minor -> BigInt,
        change_minor -> BigInt,
        card_type -> Text,
        reference -> Text,
        shift_id -> Text,
        created_at -> BigInt,
        rounding_minor -> BigInt,
    }
}

diesel::table! {
    refunds (id) {
        id -> Text,
        order_id -> Text,
        approved_by -> Text,
        staff_id -> Text,
        reason -> Text,
        total_minor -> BigInt,
        tax_minor -> BigInt,
        lines_json -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    stock_movements (id) {
        id -> Text,
        product_id -> Text,
        qty_milli -> BigInt,
        reason -> Text,
        ref_id -> Text,
        staff_id -> Nullable<Text>,
        at -> BigInt,
    }
}

diesel::table! {
    kitchen_tickets (id) {
        id -> Text,
        order_id -> Text,
        order_number -> Text,
        status -> Text,
        lines_json -> Text,
        note -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
        version -> BigInt,
        printed_at_register -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> BigInt,
        hlc -> BigInt,
        staff_id -> Nullable<Text>,
        device_id -> Nullable<Text>,
        action -> Text,
        subject -> Text,
        detail -> Text,
    }
}

diesel::table! {
    idempotency_keys (device_id,key) {
        device_id -> Text,
        key -> Text,
        request_sha256 -> Text,
        status_code -> Integer,
        response_body -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    outbox (seq) {
        seq -> BigInt,
        event_id -> Text,
        store_id -> Text,
        device_id -> Nullable<Text>,
        stream -> Text,
        position -> Nullable<BigInt>,
        node_epoch -> Text,
        aggregate_type -> Text,
        aggregate_id -> Text,
        aggregate_version -> BigInt,
        event_type -> Text,
        schema_version -> Integer,
        occurred_at -> BigInt,
        hlc -> BigInt,
        master_version -> BigInt,
        actor -> Text,
        payload -> Text,
        payload_sha256 -> Text,
        txid -> BigInt,
    }
}

diesel::table! {
    stream_heads (stream) {
        stream -> Text,
        position -> BigInt,
    }
}

diesel::table! {
    relay_state (id) {
        id -> Integer,
        last_txid -> BigInt,
        last_seq -> BigInt,
    }
}

diesel::joinable!(sessions -> staff (staff_id));
diesel::joinable!(products -> tax_categories (tax_category_id));
// A sale checks its session in the same query as its products
// (`catalog::resolve_signed`).
diesel::allow_tables_to_appear_in_same_query!(sessions, staff, products, tax_categories, devices);

diesel::table! {
    sync_acks (stream) {
        stream -> Text,
        node_epoch -> Text,
        position -> BigInt,
        event_id -> Text,
        acked_at -> BigInt,
    }
}

diesel::table! {
    node_epochs (node_epoch) {
        node_epoch -> Text,
        parent_epoch -> Text,
        fork -> Text,
        reason -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    sync_status (id) {
        id -> Integer,
        online -> Bool,
        last_attempt_at -> BigInt,
        last_success_at -> Nullable<BigInt>,
        last_error -> Text,
        credential_expires_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sync_credential (id) {
        id -> Integer,
        credential -> Text,
        settings_sha256 -> Text,
        rotated_at -> BigInt,
    }
}
diesel::allow_tables_to_appear_in_same_query!(orders, order_lines);

diesel::table! {
    consumer_cursors (name) {
        name -> Text,
        position -> BigInt,
    }
}

diesel::table! {
    printers (id) {
        id -> Text,
        hw_proxy_url -> Text,
        address -> Text,
        width -> Integer,
        code_pages -> Text,
        fallback -> Nullable<Text>,
        role -> Text,
        device_id -> Nullable<Text>,
        logo_png -> Nullable<Binary>,
        updated_at -> BigInt,
        removed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    till_feed (kind, key) {
        kind -> Text,
        key -> Text,
        seq -> BigInt,
    }
}

diesel::table! {
    till_feed_seq (id) {
        id -> Integer,
        seq -> BigInt,
    }
}

diesel::table! {
    till_feed_cursor (id) {
        id -> Integer,
        epoch -> Text,
        seq -> BigInt,
    }
}

diesel::table! {
    pairing_codes (code_hash) {
        code_hash -> Text,
        kind -> Text,
        name -> Text,
        created_by -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        device_id -> Nullable<Text>,
    }
}

diesel::table! {
    register_marks (device_id, epoch, stream) {
        device_id -> Text,
        epoch -> Text,
        stream -> Text,
        position -> BigInt,
    }
}

diesel::table! {
    agent_link (id) {
        id -> Integer,
        edge_url -> Text,
        device_id -> Text,
        token -> Text,
        pushed_seq -> BigInt,
        last_ok_at -> Nullable<BigInt>,
        ca_pem -> Nullable<Text>,
        history_due -> Bool,
    }
}

diesel::table! {
    agent_epochs (epoch) {
        epoch -> Text,
        since -> Text,
        replaces -> Nullable<Text>,
    }
}

diesel::table! {
    store_ca (id) {
        id -> Integer,
        cert_pem -> Text,
        key_pem -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    register_refusals (device_id) {
        device_id -> Text,
        at -> BigInt,
        reason -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(register_refusals, devices);

diesel::table! {
    register_parked (event_id) {
        event_id -> Text,
        device_id -> Text,
        epoch -> Text,
        stream -> Text,
        position -> BigInt,
        event_type -> Text,
        reason -> Text,
        event -> Text,
        at -> BigInt,
        cleared_at -> Nullable<BigInt>,
        cleared_by -> Nullable<Text>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(register_parked, devices);
