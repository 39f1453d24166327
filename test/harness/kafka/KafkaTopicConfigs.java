import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.reflect.Field;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.utils.AppInfoParser;
import org.apache.kafka.storage.internals.log.LogConfig;

/**
 * Prints the topic-level configs of the Kafka jars on the class path, as Kafka itself defines them
 * (LogConfig.configKeys(), without the internal ones), as JSON: name, ConfigDef type, and what the
 * validator allows where it can be read (a Range's bounds, a ValidString's or ValidList's choices);
 * any other validator as its own description. test/harness/kafka/topic-configs.ts runs it with
 * `java -cp '<lib>/*' KafkaTopicConfigs.java`.
 */
public class KafkaTopicConfigs {
    public static void main(String[] args) throws Exception {
        Map<String, ConfigDef.ConfigKey> keys = LogConfig.configKeys();
        Map<String, Object> configs = new TreeMap<>();
        for (String name : LogConfig.nonInternalConfigNames()) {
            ConfigDef.ConfigKey key = keys.get(name);
            Map<String, Object> config = new LinkedHashMap<>();
            config.put("type", key.type.name());
            describe(key.validator, config);
            configs.put(name, config);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("kafkaVersion", AppInfoParser.getVersion());
        out.put("configs", configs);
        System.out.println(new ObjectMapper().writeValueAsString(out));
    }

    static void describe(ConfigDef.Validator validator, Map<String, Object> config) throws ReflectiveOperationException {
        if (validator == null) return;
        if (validator instanceof ConfigDef.Range) {
            Object min = field(validator, "min");
            Object max = field(validator, "max");
            if (min != null) config.put("min", min.toString());
            if (max != null) config.put("max", max.toString());
        } else if (validator instanceof ConfigDef.ValidString) {
            config.put("values", field(validator, "validStrings"));
        } else if (validator instanceof ConfigDef.ValidList) {
            config.put("values", field(field(validator, "validString"), "validStrings"));
        } else {
            config.put("rule", validator.toString());
        }
    }

    static Object field(Object object, String name) throws ReflectiveOperationException {
        Field field = object.getClass().getDeclaredField(name);
        field.setAccessible(true);
        return field.get(object);
    }
}
