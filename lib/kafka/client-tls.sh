#!/bin/bash
# Sourced by the admin Jobs' scripts with their client properties file as $1, when KAFKA_CLIENT_TLS_DIR is
# set (kafka.security on): the Kafka tools then connect over the TLS client-certificate listener as the
# admin principal. Kafka reads a PEM keystore as one file with the key and its chain (ssl.keystore.type=PEM),
# so the Secret's tls.key and tls.crt are joined into $KAFKA_CLIENT_KEYSTORE (a RAM-backed emptyDir).
#
# Environment:
#   KAFKA_CLIENT_TLS_DIR   the admin certificate's Secret: tls.crt, tls.key (PKCS#8), ca.crt
#   KAFKA_CLIENT_KEYSTORE  where to write the joined keystore
: "${KAFKA_CLIENT_KEYSTORE:?must be set with KAFKA_CLIENT_TLS_DIR}"
(umask 077 && cat "$KAFKA_CLIENT_TLS_DIR/tls.key" "$KAFKA_CLIENT_TLS_DIR/tls.crt" >"$KAFKA_CLIENT_KEYSTORE")
printf '%s\n' 'security.protocol=SSL' 'ssl.keystore.type=PEM' "ssl.keystore.location=$KAFKA_CLIENT_KEYSTORE" \
  'ssl.truststore.type=PEM' "ssl.truststore.location=$KAFKA_CLIENT_TLS_DIR/ca.crt" >>"$1"
