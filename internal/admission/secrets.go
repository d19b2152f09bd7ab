package admission

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"github.com/archestra-ai/mcp-orchestrator/injector"
)

// SecretLookup tells whether a Secret exists. known is false while the
// answer is not available (cache not synced): then nothing is reported.
type SecretLookup interface {
	SecretExists(namespace, name string) (exists, known bool)
}

// SecretCache answers SecretLookup from a metadata-only informer: the
// webhook learns which Secrets exist without ever receiving their data.
type SecretCache struct {
	informer cache.SharedIndexInformer
}

// SecretsInformer watches the metadata of Secrets in all namespaces. The
// webhook's warnings and the pull secret controller share one.
func SecretsInformer(client metadata.Interface) cache.SharedIndexInformer {
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	return metadatainformer.NewFilteredMetadataInformer(client, gvr, metav1.NamespaceAll, 0,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}, nil).Informer()
}

// NewSecretCache answers from a Secrets metadata informer started elsewhere.
func NewSecretCache(informer cache.SharedIndexInformer) *SecretCache {
	return &SecretCache{informer: informer}
}

// SecretExists implements SecretLookup.
func (c *SecretCache) SecretExists(namespace, name string) (bool, bool) {
	if !c.informer.HasSynced() {
		return false, false
	}
	_, exists, err := c.informer.GetStore().GetByKey(namespace + "/" + name)
	if err != nil {
		return false, false
	}
	return exists, true
}

// missingSecretWarnings is a soft problem: the Deployment is admitted (the
// Secret may be created right after it, as kubectl apply of a directory
// often does), but its pods will not start until the Secret exists.
func missingSecretWarnings(lookup SecretLookup, namespace string, refs []injector.SecretRef) []string {
	if lookup == nil {
		return nil
	}
	var warnings []string
	for _, ref := range refs {
		if exists, known := lookup.SecretExists(namespace, ref.Name); known && !exists {
			warnings = append(warnings, fmt.Sprintf("Secret %q (from %s) does not exist in namespace %q yet; pods that need it will not start until it does",
				ref.Name, ref.Source, namespace))
		}
	}
	return warnings
}
