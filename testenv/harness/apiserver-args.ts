// kube-apiserver's flags for the testenv control plane: envtest's set (RBAC,
// service-account keys, a Service range), the aggregation layer's front proxy,
// and what the real node needs (a non-loopback address with the lease endpoint
// reconciler, and credentials towards the kubelet for logs and exec).
import type { ControlPlaneCerts } from "./certs.ts";

export const SERVICE_CIDR = "10.96.0.0/16";
const SA_ISSUER = "https://kubernetes.default.svc.cluster.local";

export function apiserverArgs(o: {
  etcdUrl: string;
  address: string;
  apiPort: number;
  certs: ControlPlaneCerts;
  certDir: string;
  withControllers: boolean;
}): string[] {
  const args = [
    `--etcd-servers=${o.etcdUrl}`,
    `--bind-address=${o.address}`,
    `--advertise-address=${o.address}`,
    `--secure-port=${o.apiPort}`,
    `--cert-dir=${o.certDir}`,
    `--tls-cert-file=${o.certs.serverCert}`,
    `--tls-private-key-file=${o.certs.serverKey}`,
    `--client-ca-file=${o.certs.caCert}`,
    `--service-account-key-file=${o.certs.saPublicKey}`,
    `--service-account-signing-key-file=${o.certs.saPrivateKey}`,
    `--service-account-issuer=${SA_ISSUER}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    "--authorization-mode=RBAC",
    // Aggregation layer / request-header authentication, as kubeadm sets it up;
    // kube-controller-manager and kube-scheduler read this CA for delegated authn.
    `--requestheader-client-ca-file=${o.certs.caCert}`,
    "--requestheader-allowed-names=front-proxy-client",
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${o.certs.proxyClientCert}`,
    `--proxy-client-key-file=${o.certs.proxyClientKey}`,
    "--allow-privileged=true",
    // Loopback addresses are invalid endpoints for the "kubernetes" Service.
    `--endpoint-reconciler-type=${o.address === "127.0.0.1" ? "none" : "lease"}`,
    // For logs, exec and port-forward: reach kubelets at their node IP, as the admin.
    "--kubelet-preferred-address-types=InternalIP",
    `--kubelet-client-certificate=${o.certs.adminCert}`,
    `--kubelet-client-key=${o.certs.adminKey}`,
    "--profiling=false",
  ];
  // Without kube-controller-manager nothing creates the "default" ServiceAccount,
  // so the ServiceAccount admission plugin would reject every Pod.
  if (!o.withControllers) args.push("--disable-admission-plugins=ServiceAccount");
  return args;
}
