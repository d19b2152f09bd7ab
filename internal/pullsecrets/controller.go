package pullsecrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"k8s.io/utils/ptr"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Labels and annotations on the Secrets this controller writes.
const (
	SourceAnnotation = api.Prefix + "pull-secret-source"
	WriterAnnotation = api.Prefix + "written-by"
)

// Event reasons, on the Deployment.
const (
	ReasonCredentialsNotFound = "RegistryCredentialsNotFound"
	ReasonCredentialsInvalid  = "RegistryCredentialsInvalid"
	ReasonPullSecretConflict  = "PullSecretConflict"
	ReasonPullSecretNotCopied = "PullSecretNotCopied"
	ReasonPullSecretSynced    = "PullSecretSynced"
)

// Options configure a Controller.
type Options struct {
	Client kubernetes.Interface
	// Secrets is a metadata informer on Secrets in all namespaces, shared
	// with the webhook's missing-Secret warnings. The caller starts it.
	Secrets cache.SharedIndexInformer
	// PlatformNamespace holds the pull secrets that may be copied.
	PlatformNamespace string
	// CopyAllowed names the platform pull secrets that may be copied into
	// server namespaces; none when empty, so no namespace can pull
	// another's credentials by naming them.
	CopyAllowed []string
	// Identity names this replica on the Secrets it writes.
	Identity string
	Logger   *slog.Logger
}

// Controller reconciles the pull secrets of labelled Deployments.
type Controller struct {
	Options
	deployments cache.SharedIndexInformer
	factory     informers.SharedInformerFactory
	queue       workqueue.TypedRateLimitingInterface[string]
	recorder    record.EventRecorder
	broadcaster record.EventBroadcaster
	secretsReg  cache.ResourceEventHandlerRegistration
}

// New builds a Controller; Run starts it.
func New(o Options) (*Controller, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	factory := informers.NewSharedInformerFactoryWithOptions(o.Client, 0, informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
		lo.LabelSelector = api.ServerLabel
	}))
	c := &Controller{
		Options:     o,
		factory:     factory,
		deployments: factory.Apps().V1().Deployments().Informer(),
		queue:       workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](), workqueue.TypedRateLimitingQueueConfig[string]{Name: "pull-secrets"}),
		broadcaster: record.NewBroadcaster(),
	}
	c.recorder = c.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "mcp-orchestrator"})
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	if err := c.deployments.AddIndexers(cache.Indexers{secretRefIndex: c.secretRefKeys}); err != nil {
		return nil, err
	}
	if _, err := c.deployments.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, n any) { enqueue(n) }, DeleteFunc: enqueue,
	}); err != nil {
		return nil, err
	}
	reg, err := o.Secrets.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.secretChanged, UpdateFunc: func(_, n any) { c.secretChanged(n) }, DeleteFunc: c.secretChanged,
	})
	if err != nil {
		return nil, err
	}
	c.secretsReg = reg
	return c, nil
}

// Run processes the queue until ctx ends. A Controller runs once: under
// leader election each term builds a new one.
func (c *Controller) Run(ctx context.Context) error {
	defer func() { _ = c.Secrets.RemoveEventHandler(c.secretsReg) }()
	defer c.factory.Shutdown()
	defer c.queue.ShutDown()
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.Client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	c.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.deployments.HasSynced, c.Secrets.HasSynced) {
		return errors.New("pull secrets: caches did not sync")
	}
	c.Logger.Info("pull secret controller running", "identity", c.Identity)
	go func() {
		for c.processNext(ctx) {
		}
	}()
	<-ctx.Done()
	return nil
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.reconcile(ctx, key); err != nil {
		c.Logger.Warn("reconciling pull secrets, will retry", "deployment", key, "error", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// secretRefIndex indexes Deployments by the Secrets they name, as
// "namespace/name", and by the platform pull secrets they may need copied,
// as "*/name".
const secretRefIndex = "secretRefs"

func (c *Controller) secretRefKeys(obj any) ([]string, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return nil, nil
	}
	var keys []string
	if src := registryCredentials(d); src != "" {
		keys = append(keys, d.Namespace+"/"+src, d.Namespace+"/"+api.RegistrySecretName(src))
	}
	for _, name := range podPullSecrets(d) {
		keys = append(keys, d.Namespace+"/"+name, "*/"+name)
	}
	return keys, nil
}

// registryCredentials is the Secret the Deployment's annotation names. The
// webhook denies bad values; one stored before it was installed is ignored
// rather than retried forever.
func registryCredentials(d *appsv1.Deployment) string {
	name := d.Annotations[api.AnnRegistryCredentials]
	if d.Labels[api.ServerLabel] == "" || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return ""
	}
	return name
}

// podPullSecrets are the pull secrets the injected pod template lists: the
// platform's defaults, the image-pull-secrets annotation's and the user's
// own. The controller acts on what the webhook wrote, so it needs no parser
// of its own.
func podPullSecrets(d *appsv1.Deployment) []string {
	var names []string
	for _, r := range d.Spec.Template.Spec.ImagePullSecrets {
		if r.Name != "" && !slices.Contains(names, r.Name) {
			names = append(names, r.Name)
		}
	}
	return names
}

// secretChanged enqueues the Deployments a Secret matters to: the owners
// of a Secret we wrote, the Deployments of its namespace that name it, and
// for an allowed platform pull secret every Deployment that needs it.
func (c *Controller) secretChanged(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	if m.GetLabels()[api.ManagedByLabel] == api.ManagedByValue {
		for _, ref := range m.GetOwnerReferences() {
			if ref.Kind == "Deployment" {
				c.queue.Add(m.GetNamespace() + "/" + ref.Name)
			}
		}
	}
	keys := []string{m.GetNamespace() + "/" + m.GetName()}
	if m.GetNamespace() == c.PlatformNamespace && slices.Contains(c.CopyAllowed, m.GetName()) {
		keys = append(keys, "*/"+m.GetName())
	}
	for _, key := range keys {
		deps, _ := c.deployments.GetIndexer().ByIndex(secretRefIndex, key)
		for _, obj := range deps {
			d := obj.(*appsv1.Deployment)
			c.queue.Add(d.Namespace + "/" + d.Name)
		}
	}
}

// desiredSecret is a pull secret a Deployment should have.
type desiredSecret struct {
	data   []byte
	source string
}

func (c *Controller) reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	obj, exists, err := c.deployments.GetStore().GetByKey(key)
	if err != nil {
		return err
	}
	var dep *appsv1.Deployment
	if exists {
		dep = obj.(*appsv1.Deployment)
	}
	desired, keep, err := c.desired(ctx, dep)
	if err != nil {
		return err
	}
	for secretName, want := range desired {
		if err := c.ensure(ctx, dep, secretName, want); err != nil {
			return err
		}
	}
	return c.releaseOthers(ctx, ns, name, dep, desired, keep)
}

// desired computes the pull secrets of dep (none when it is gone, being
// deleted or no longer labelled). keep lists Secrets to leave as they are
// because their source is missing or invalid: the last good copy stays
// until the problem is fixed, and the problem is reported.
func (c *Controller) desired(ctx context.Context, dep *appsv1.Deployment) (map[string]desiredSecret, []string, error) {
	out := map[string]desiredSecret{}
	if dep == nil || dep.DeletionTimestamp != nil || dep.Labels[api.ServerLabel] == "" {
		return out, nil, nil
	}
	var keep []string
	if src := registryCredentials(dep); src != "" {
		target := api.RegistrySecretName(src)
		secret, err := c.Client.CoreV1().Secrets(dep.Namespace).Get(ctx, src, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			c.warn(dep, ReasonCredentialsNotFound, "Secret %q named by %s does not exist; pull secret %q is not updated", src, api.AnnRegistryCredentials, target)
			keep = append(keep, target)
		case err != nil:
			return nil, nil, fmt.Errorf("reading Secret %s/%s: %w", dep.Namespace, src, err)
		default:
			data, err := DockerConfigJSON(secret)
			if err != nil {
				c.warn(dep, ReasonCredentialsInvalid, "Secret %q named by %s: %v; pull secret %q is not updated", src, api.AnnRegistryCredentials, err, target)
				keep = append(keep, target)
			} else {
				out[target] = desiredSecret{data: data, source: "registry-credentials:" + src}
			}
		}
	}
	if dep.Namespace == c.PlatformNamespace {
		return out, keep, nil
	}
	for _, name := range podPullSecrets(dep) {
		if !slices.Contains(c.CopyAllowed, name) {
			continue
		}
		if local, ok, _ := c.Secrets.GetStore().GetByKey(dep.Namespace + "/" + name); ok && local.(metav1.Object).GetLabels()[api.ManagedByLabel] != api.ManagedByValue {
			continue // the namespace has its own Secret of that name
		}
		src, err := c.Client.CoreV1().Secrets(c.PlatformNamespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("reading Secret %s/%s: %w", c.PlatformNamespace, name, err)
		case src.Type != corev1.SecretTypeDockerConfigJson:
			c.warn(dep, ReasonPullSecretNotCopied, "platform Secret %q is of type %s, not %s; not copied", name, src.Type, corev1.SecretTypeDockerConfigJson)
			keep = append(keep, name)
		default:
			out[name] = desiredSecret{data: src.Data[corev1.DockerConfigJsonKey], source: "copy:" + c.PlatformNamespace + "/" + name}
		}
	}
	return out, keep, nil
}

// ensure creates or updates one pull secret owned (among others) by dep.
func (c *Controller) ensure(ctx context.Context, dep *appsv1.Deployment, name string, want desiredSecret) error {
	secrets := c.Client.CoreV1().Secrets(dep.Namespace)
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: dep.Name, UID: dep.UID}
	current, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: dep.Namespace,
				Labels:          map[string]string{api.ManagedByLabel: api.ManagedByValue},
				Annotations:     map[string]string{SourceAnnotation: want.source, WriterAnnotation: c.Identity},
				OwnerReferences: []metav1.OwnerReference{owner},
			},
			Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: want.data},
		}
		if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating pull secret %s/%s: %w", dep.Namespace, name, err)
		}
		c.Logger.Info("created pull secret", "namespace", dep.Namespace, "secret", name, "source", want.source, "deployment", dep.Name)
		c.recorder.Eventf(dep, corev1.EventTypeNormal, ReasonPullSecretSynced, "created pull secret %q from %s", name, want.source)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading pull secret %s/%s: %w", dep.Namespace, name, err)
	}
	if current.Labels[api.ManagedByLabel] != api.ManagedByValue {
		c.warn(dep, ReasonPullSecretConflict, "Secret %q exists and is not managed by MCP Orchestrator; it is left alone", name)
		return nil
	}
	updated := current.DeepCopy()
	if !slices.ContainsFunc(updated.OwnerReferences, func(r metav1.OwnerReference) bool { return r.UID == dep.UID }) {
		updated.OwnerReferences = append(updated.OwnerReferences, owner)
	}
	changedData := string(updated.Data[corev1.DockerConfigJsonKey]) != string(want.data) || updated.Annotations[SourceAnnotation] != want.source
	if !changedData && len(updated.OwnerReferences) == len(current.OwnerReferences) {
		return nil
	}
	updated.Data = map[string][]byte{corev1.DockerConfigJsonKey: want.data}
	if updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	updated.Annotations[SourceAnnotation] = want.source
	updated.Annotations[WriterAnnotation] = c.Identity
	if _, err := secrets.Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating pull secret %s/%s: %w", dep.Namespace, name, err)
	}
	c.Logger.Info("updated pull secret", "namespace", dep.Namespace, "secret", name, "source", want.source, "deployment", dep.Name, "dataChanged", changedData)
	if changedData {
		c.recorder.Eventf(dep, corev1.EventTypeNormal, ReasonPullSecretSynced, "updated pull secret %q from %s", name, want.source)
	}
	return nil
}

// releaseOthers drops the Deployment as owner of the pull secrets it no
// longer needs (or of all, when it is gone), deleting those without owners.
// Garbage collection would delete them too once the Deployment is gone; we
// do not rely on it so that an annotation change cleans up at once.
func (c *Controller) releaseOthers(ctx context.Context, ns, name string, dep *appsv1.Deployment, desired map[string]desiredSecret, keep []string) error {
	for _, obj := range c.Secrets.GetStore().List() {
		m := obj.(metav1.Object)
		if m.GetNamespace() != ns || m.GetLabels()[api.ManagedByLabel] != api.ManagedByValue {
			continue
		}
		if _, wanted := desired[m.GetName()]; wanted || slices.Contains(keep, m.GetName()) {
			continue
		}
		owned := func(r metav1.OwnerReference) bool {
			return r.Kind == "Deployment" && r.Name == name && (dep == nil || r.UID == dep.UID)
		}
		if !slices.ContainsFunc(m.GetOwnerReferences(), owned) {
			continue
		}
		if err := c.release(ctx, ns, m.GetName(), owned); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) release(ctx context.Context, ns, name string, owned func(metav1.OwnerReference) bool) error {
	secrets := c.Client.CoreV1().Secrets(ns)
	current, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading pull secret %s/%s: %w", ns, name, err)
	}
	refs := slices.DeleteFunc(slices.Clone(current.OwnerReferences), owned)
	if len(refs) == 0 {
		err := secrets.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(current.UID)}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting pull secret %s/%s: %w", ns, name, err)
		}
		c.Logger.Info("deleted pull secret no Deployment needs", "namespace", ns, "secret", name)
		return nil
	}
	updated := current.DeepCopy()
	updated.OwnerReferences = refs
	if _, err := secrets.Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating owners of pull secret %s/%s: %w", ns, name, err)
	}
	return nil
}

// warn reports a problem on the Deployment and in the log. Messages name
// Secrets and keys, never values.
func (c *Controller) warn(dep *appsv1.Deployment, reason, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.Logger.Warn(msg, "reason", reason, "namespace", dep.Namespace, "deployment", dep.Name)
	c.recorder.Event(dep, corev1.EventTypeWarning, reason, msg)
}
