// Command dapr-components runs Dapr's own component code, github.com/dapr/components-contrib at the
// release daprd embeds, against Component YAML, loading each component the way daprd does: scope
// check, secretKeyRef resolution through the secret store named in auth.secretStore (itself a
// component of the same resources path), metadata template tags, consumerID, then the component's Init.
//
// It exists because daprd itself cannot be built here (see ../daprd/build-daprd.sh): the Go module
// proxy does not serve a module the runtime imports, while components-contrib builds.
//
// Usage:
//
//	dapr-components --resources-path DIR --app-id ID [--namespace NS] SCENARIO ARGS...
//
//	init COMPONENT                           Init only
//	publish-subscribe COMPONENT TOPIC DATA   Subscribe, publish DATA, wait until it comes back
//	state-save COMPONENT KEY VALUE
//	state-get COMPONENT KEY
//	state-delete COMPONENT KEY
//	state-load COMPONENT KEY-PREFIX          One Init, then save and read back a new key every 50 ms until
//	                                         stdin closes: each operation's times and outcome (a long-lived
//	                                         store, as in a running sidecar, across a server switch-over)
//
// Exactly one JSON object goes to stdout ({"ok": true, ...} or {"ok": false, "stage", "error"}); the
// components' logs go to stderr. Exit code 0 on success, 1 on failure, 2 on bad usage.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"gopkg.in/yaml.v3"

	"github.com/dapr/components-contrib/metadata"
	"github.com/dapr/components-contrib/pubsub"
	pubsubkafka "github.com/dapr/components-contrib/pubsub/kafka"
	"github.com/dapr/components-contrib/secretstores"
	secretstorefile "github.com/dapr/components-contrib/secretstores/local/file"
	"github.com/dapr/components-contrib/state"
	statepostgresql "github.com/dapr/components-contrib/state/postgresql/v2"
	"github.com/dapr/kit/logger"
)

// component is the part of a dapr.io/v1alpha1 Component that daprd reads.
type component struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Auth struct {
		SecretStore string `yaml:"secretStore"`
	} `yaml:"auth"`
	Scopes []string `yaml:"scopes"`
	Spec   struct {
		Type     string         `yaml:"type"`
		Version  string         `yaml:"version"`
		Metadata []metadataItem `yaml:"metadata"`
	} `yaml:"spec"`
}

type metadataItem struct {
	Name string `yaml:"name"`
	// Any YAML scalar: Dapr's DynamicValue accepts `value: 5` as well as `value: "5"`.
	Value        any `yaml:"value"`
	SecretKeyRef struct {
		Name string `yaml:"name"`
		Key  string `yaml:"key"`
	} `yaml:"secretKeyRef"`
}

// registry maps type/version to the constructors daprd registers for them
// (dapr/dapr cmd/daprd/components/*.go). Only what LearnFlow's components use, plus the local file
// secret store that stands in for the Kubernetes one outside a cluster.
var (
	pubsubs      = map[string]func(logger.Logger) pubsub.PubSub{"pubsub.kafka/v1": pubsubkafka.NewKafka}
	stateStores  = map[string]func(logger.Logger) state.Store{"state.postgresql/v2": statepostgresql.NewPostgreSQLStateStore}
	secretStores = map[string]func(logger.Logger) secretstores.SecretStore{"secretstores.local.file/v1": secretstorefile.NewLocalSecretStore}
)

// failure is reported as {"ok": false, "stage": ..., "error": ...}.
type failure struct {
	stage string
	err   error
}

func (f failure) Error() string { return f.stage + ": " + f.err.Error() }

func fail(stage string, err error) error { return failure{stage, err} }

type runtime struct {
	appID      string
	namespace  string
	components map[string]component
	log        io.Writer
}

func main() {
	flags := flag.NewFlagSet("dapr-components", flag.ContinueOnError)
	resourcesPath := flags.String("resources-path", "", "directory of Component YAML files (daprd --resources-path)")
	appID := flags.String("app-id", "", "the app-id daprd would run as (daprd --app-id)")
	namespace := flags.String("namespace", "", "the namespace daprd would run in (NAMESPACE env)")
	timeout := flags.Duration("timeout", 90*time.Second, "how long a scenario may take")
	if err := flags.Parse(os.Args[1:]); err != nil || *resourcesPath == "" || *appID == "" || flags.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: dapr-components --resources-path DIR --app-id ID [--namespace NS] [--timeout D] SCENARIO COMPONENT ARGS...")
		os.Exit(2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	result, err := run(ctx, *resourcesPath, *appID, *namespace, flags.Args())
	if err != nil {
		var f failure
		if !errors.As(err, &f) {
			f = failure{"scenario", err}
		}
		emit(map[string]any{"ok": false, "stage": f.stage, "error": f.err.Error()})
		os.Exit(1)
	}
	result["ok"] = true
	emit(result)
}

func emit(result map[string]any) {
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(result); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, resourcesPath, appID, namespace string, args []string) (map[string]any, error) {
	components, err := loadComponents(resourcesPath)
	if err != nil {
		return nil, fail("load", err)
	}
	rt := &runtime{appID: appID, namespace: namespace, components: components, log: os.Stderr}
	scenario, name, rest := args[0], args[1], args[2:]
	arity := map[string]int{"init": 0, "publish-subscribe": 2, "state-save": 2, "state-get": 1, "state-delete": 1, "state-load": 1}
	if want, known := arity[scenario]; !known || len(rest) != want {
		return nil, fail("usage", fmt.Errorf("scenario %q takes a component and %d more arguments", scenario, arity[scenario]))
	}

	switch scenario {
	case "init":
		comp, properties, err := rt.prepare(ctx, name)
		if err != nil {
			return nil, err
		}
		closer, err := rt.initAny(ctx, comp, properties)
		if err != nil {
			return nil, err
		}
		defer closer.Close()
		return map[string]any{"component": name, "type": comp.Spec.Type + "/" + comp.Spec.Version}, nil
	case "publish-subscribe":
		return rt.publishSubscribe(ctx, name, rest[0], rest[1])
	default:
		return rt.stateScenario(ctx, scenario, name, rest)
	}
}

// loadComponents reads every Component of the *.yaml files of a directory, as daprd's self-hosted
// loader does (other kinds are skipped; a duplicate name is an error).
func loadComponents(dir string) (map[string]component, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	components := map[string]component{}
	for _, file := range files {
		content, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		decoder := yaml.NewDecoder(bytes.NewReader(content))
		for {
			var comp component
			if err := decoder.Decode(&comp); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if comp.Kind != "Component" {
				continue
			}
			if _, duplicate := components[comp.Metadata.Name]; duplicate {
				return nil, fmt.Errorf("%s: duplicate component %q", file, comp.Metadata.Name)
			}
			components[comp.Metadata.Name] = comp
		}
	}
	return components, nil
}

// prepare turns a Component into the properties daprd hands to Init.
func (rt *runtime) prepare(ctx context.Context, name string) (component, map[string]string, error) {
	comp, ok := rt.components[name]
	if !ok {
		return comp, nil, fail("load", fmt.Errorf("no component named %q", name))
	}
	// daprd skips a component whose scopes do not list its app-id (pkg/runtime/processor/processor.go).
	if len(comp.Scopes) > 0 && !slices.Contains(comp.Scopes, rt.appID) {
		return comp, nil, fail("scope", fmt.Errorf("component %q is not scoped to app-id %q", name, rt.appID))
	}
	if err := rt.resolveSecrets(ctx, &comp); err != nil {
		return comp, nil, fail("secrets", err)
	}
	properties, err := rt.convertItemsToProps(comp.Spec.Metadata)
	if err != nil {
		return comp, nil, fail("metadata", err)
	}
	return comp, properties, nil
}

// resolveSecrets follows dapr/dapr pkg/runtime/processor/secret/secret.go ProcessResource: every
// secretKeyRef is read from the component's auth.secretStore with GetSecret(name) and its key (the
// name when no key is given). A missing secret or key is logged and leaves the value empty, so that the
// component's own validation reports it, as in daprd.
func (rt *runtime) resolveSecrets(ctx context.Context, comp *component) error {
	var store secretstores.SecretStore
	cache := map[string]map[string]string{}
	for i, item := range comp.Spec.Metadata {
		ref := item.SecretKeyRef
		if ref.Name == "" {
			continue
		}
		if store == nil {
			// Self-hosted daprd has no default secret store (pkg/runtime/meta AuthSecretStoreOrDefault).
			storeName := comp.Auth.SecretStore
			storeComp, ok := rt.components[storeName]
			if storeName == "" || !ok {
				return fmt.Errorf("component %q references a secret store that isn't loaded: %q", comp.Metadata.Name, storeName)
			}
			properties, err := rt.convertItemsToProps(storeComp.Spec.Metadata)
			if err != nil {
				return err
			}
			closer, err := rt.initAny(ctx, storeComp, properties)
			if err != nil {
				return err
			}
			defer closer.Close()
			store = closer.(secretstores.SecretStore)
		}
		data, cached := cache[ref.Name]
		if !cached {
			response, err := store.GetSecret(ctx, secretstores.GetSecretRequest{
				Name:     ref.Name,
				Metadata: map[string]string{"namespace": comp.Metadata.Namespace},
			})
			if err != nil {
				fmt.Fprintf(rt.log, "error getting secret %q for component %q: %v\n", ref.Name, comp.Metadata.Name, err)
				continue
			}
			data = response.Data
			cache[ref.Name] = data
		}
		key := ref.Key
		if key == "" {
			key = ref.Name
		}
		if value, ok := data[key]; ok && value != "" {
			comp.Spec.Metadata[i].Value = value
		}
	}
	return nil
}

// convertItemsToProps follows dapr/dapr pkg/runtime/meta/meta.go: the template tags {uuid},
// {namespace} (namespace.appID) and {appID} are replaced in every value. {podName} is refused: it
// exists only in Kubernetes mode and the synthesized components do not use it.
func (rt *runtime) convertItemsToProps(items []metadataItem) (map[string]string, error) {
	properties := map[string]string{}
	for _, item := range items {
		value := ""
		if item.Value != nil {
			value = fmt.Sprint(item.Value)
		}
		for strings.Contains(value, "{uuid}") {
			value = strings.Replace(value, "{uuid}", uuid.NewString(), 1)
		}
		if strings.Contains(value, "{podName}") {
			return nil, fmt.Errorf("property %s refers to {podName}, which this program does not emulate", item.Name)
		}
		value = strings.ReplaceAll(value, "{namespace}", rt.namespace+"."+rt.appID)
		value = strings.ReplaceAll(value, "{appID}", rt.appID)
		properties[item.Name] = value
	}
	return properties, nil
}

// initAny creates the component from the registry and runs its Init with the properties; for a pub/sub
// it first sets consumerID as daprd's pubsub processor does (pkg/runtime/processor/pubsub/pubsub.go).
func (rt *runtime) initAny(ctx context.Context, comp component, properties map[string]string) (io.Closer, error) {
	kind := comp.Spec.Type + "/" + comp.Spec.Version
	log := logger.NewLogger("dapr.contrib." + comp.Metadata.Name)
	log.SetOutput(rt.log)
	base := metadata.Base{Name: comp.Metadata.Name, Properties: properties}

	var closer io.Closer
	var err error
	switch {
	case pubsubs[kind] != nil:
		if consumerID := strings.TrimSpace(properties["consumerID"]); consumerID == "" {
			properties["consumerID"] = rt.appID
		}
		ps := pubsubs[kind](log)
		closer, err = ps, ps.Init(ctx, pubsub.Metadata{Base: base})
	case stateStores[kind] != nil:
		store := stateStores[kind](log)
		closer, err = store, store.Init(ctx, state.Metadata{Base: base})
	case secretStores[kind] != nil:
		store := secretStores[kind](log)
		closer, err = store, store.Init(ctx, secretstores.Metadata{Base: base})
	default:
		return nil, fail("create", fmt.Errorf("couldn't find %s in the component registry", kind))
	}
	if err != nil {
		closer.Close()
		return nil, fail("init", fmt.Errorf("component %s (%s): %w", comp.Metadata.Name, kind, err))
	}
	return closer, nil
}

func (rt *runtime) publishSubscribe(ctx context.Context, name, topic, data string) (map[string]any, error) {
	comp, properties, err := rt.prepare(ctx, name)
	if err != nil {
		return nil, err
	}
	closer, err := rt.initAny(ctx, comp, properties)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	ps, ok := closer.(pubsub.PubSub)
	if !ok {
		return nil, fail("usage", fmt.Errorf("component %q is not a pub/sub", name))
	}

	type delivery struct {
		metadata map[string]string
		after    time.Duration
	}
	received := make(chan delivery, 1)
	started := time.Now()
	// Earlier messages of the topic (initialOffset oldest, an earlier run) are acknowledged and skipped.
	var skipped atomic.Int64
	handler := func(_ context.Context, msg *pubsub.NewMessage) error {
		if string(msg.Data) != data {
			skipped.Add(1)
			return nil
		}
		select {
		case received <- delivery{msg.Metadata, time.Since(started)}:
		default:
		}
		return nil
	}
	if err := ps.Subscribe(ctx, pubsub.SubscribeRequest{Topic: topic, Metadata: map[string]string{}}, handler); err != nil {
		return nil, fail("subscribe", err)
	}
	if err := ps.Publish(ctx, &pubsub.PublishRequest{PubsubName: name, Topic: topic, Data: []byte(data)}); err != nil {
		return nil, fail("publish", err)
	}
	published := time.Since(started)
	select {
	case got := <-received:
		return map[string]any{
			"component":     name,
			"topic":         topic,
			"received":      data,
			"metadata":      got.metadata,
			"skipped":       skipped.Load(),
			"consumerGroup": properties["consumerGroup"],
			"clientID":      properties["clientID"],
			"publishMs":     published.Milliseconds(),
			"receiveMs":     got.after.Milliseconds(),
		}, nil
	case <-ctx.Done():
		return nil, fail("receive", fmt.Errorf("the message published to %s did not come back through the subscription: %w", topic, ctx.Err()))
	}
}

// stateScenario prefixes keys as daprd's state API does by default (keyPrefix strategy appid,
// dapr/dapr pkg/components/state/state_config.go: "<app-id>||<key>"), so rows look like production's.
func (rt *runtime) stateScenario(ctx context.Context, scenario, name string, args []string) (map[string]any, error) {
	comp, properties, err := rt.prepare(ctx, name)
	if err != nil {
		return nil, err
	}
	if _, set := properties["keyPrefix"]; set {
		return nil, fail("metadata", errors.New("keyPrefix is set; this program emulates only daprd's default (appid)"))
	}
	closer, err := rt.initAny(ctx, comp, properties)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	store, ok := closer.(state.Store)
	if !ok {
		return nil, fail("usage", fmt.Errorf("component %q is not a state store", name))
	}
	if scenario == "state-load" {
		return stateLoad(ctx, store, rt.appID+"||"+args[0], os.Stdin), nil
	}
	key := rt.appID + "||" + args[0]
	result := map[string]any{"component": name, "key": key}

	switch scenario {
	case "state-save":
		if err := store.Set(ctx, &state.SetRequest{Key: key, Value: []byte(args[1])}); err != nil {
			return nil, fail("save", err)
		}
	case "state-get":
		response, err := store.Get(ctx, &state.GetRequest{Key: key})
		if err != nil {
			return nil, fail("get", err)
		}
		result["found"] = response != nil && response.Data != nil
		if response != nil && response.Data != nil {
			result["value"] = string(response.Data)
			if response.ETag != nil {
				result["etag"] = *response.ETag
			}
		}
	case "state-delete":
		if err := store.Delete(ctx, &state.DeleteRequest{Key: key}); err != nil {
			return nil, fail("delete", err)
		}
	}
	return result, nil
}

// operation is one save-and-read-back of state-load: when it started and ended (Unix ms) and how it went.
type operation struct {
	Key     string `json:"key"`
	StartMs int64  `json:"startMs"`
	EndMs   int64  `json:"endMs"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// stateLoad keeps one initialized store, as a running daprd does, and saves then reads back a new key
// every 50 ms until `stop` (stdin) reaches EOF. A failed operation is recorded and the loop goes on: the
// store must recover by itself, with no new Init. Each operation has 5 s, the way a caller would bound it (a busy machine must not fail one).
func stateLoad(ctx context.Context, store state.Store, prefix string, stop io.Reader) map[string]any {
	stopped := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stop)
		close(stopped)
	}()
	operations := []operation{}
	for i := 0; ; i++ {
		select {
		case <-stopped:
			return map[string]any{"operations": operations}
		case <-ctx.Done():
			return map[string]any{"operations": operations, "stoppedBy": ctx.Err().Error()}
		case <-time.After(50 * time.Millisecond):
		}
		op := operation{Key: fmt.Sprintf("%s-%d", prefix, i), StartMs: time.Now().UnixMilli()}
		value := []byte(fmt.Sprintf(`{"i":%d}`, i))
		opCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := store.Set(opCtx, &state.SetRequest{Key: op.Key, Value: value})
		if err == nil {
			var response *state.GetResponse
			response, err = store.Get(opCtx, &state.GetRequest{Key: op.Key})
			if err == nil && (response == nil || !bytes.Equal(response.Data, value)) {
				err = fmt.Errorf("read back %q after saving %q", responseData(response), value)
			}
		}
		cancel()
		op.EndMs = time.Now().UnixMilli()
		op.OK = err == nil
		if err != nil {
			op.Error = err.Error()
		}
		operations = append(operations, op)
	}
}

func responseData(response *state.GetResponse) []byte {
	if response == nil {
		return nil
	}
	return response.Data
}
