package api

// The virtual resource the gateway authorizes every caller on, with a
// SubjectAccessReview: plain RBAC Roles grant access per server.
const (
	RBACGroup    = "mcp.archestra.io"
	RBACResource = "servers"
)

// Verbs and subresources of RBACResource.
const (
	VerbUse    = "use"    // MCP traffic to a server
	VerbGet    = "get"    // status; with SubLogs, logs
	VerbList   = "list"   // the server list
	VerbUpdate = "update" // with SubRestart, SubWake or SubHibernate

	SubLogs      = "logs"
	SubRestart   = "restart"
	SubWake      = "wake"      // scale a hibernated server back up
	SubHibernate = "hibernate" // scale a server to zero now
)
