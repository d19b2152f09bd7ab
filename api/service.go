package api

// ServiceDNSNames are the names a Service is reached by inside the cluster
// (with the default cluster domain), the most specific usual one first: the
// webhook's certificate covers them, and the gateway accepts them in Host.
func ServiceDNSNames(service, namespace string) []string {
	return []string{
		service + "." + namespace + ".svc", service, service + "." + namespace,
		service + "." + namespace + ".svc.cluster.local",
	}
}
