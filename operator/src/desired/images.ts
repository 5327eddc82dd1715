import type { TierImageFields } from "../api/defaults.ts";

/**
 * Which image each tier runs. The spec may leave fields unset; those come from
 * a base image. Under `upgradePolicy: Manual` the base is what the tier was
 * resolved to before (recorded in status, or read from the running workload
 * when status lost it), so a new operator with another `--workload-image`
 * changes nothing; only a first resolution, or `FollowOperator`, uses the
 * operator's default. Pure: the reconciler gathers the recorded images.
 */

export interface ImageRef {
  repository: string;
  tag?: string;
  digest?: string;
}

export interface TierImages {
  gateway: string;
  logic: string;
}

export interface ImageInputs {
  fields: { gateway: TierImageFields; logic: TierImageFields };
  policy: "Manual" | "FollowOperator";
  /** The operator's --workload-image. */
  defaultImage: string;
  /** What each tier was resolved to before, when known. */
  recorded: Partial<TierImages>;
}

/** `repo`, `repo:tag`, `repo@sha256:...` or `repo:tag@sha256:...`; a registry port is not a tag. */
export function parseImageRef(ref: string): ImageRef {
  const at = ref.indexOf("@");
  const name = at === -1 ? ref : ref.slice(0, at);
  const digest = at === -1 ? undefined : ref.slice(at + 1);
  const colon = name.lastIndexOf(":");
  const tagged = colon > name.lastIndexOf("/");
  const out: ImageRef = { repository: tagged ? name.slice(0, colon) : name };
  if (tagged) out.tag = name.slice(colon + 1);
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** A digest wins over a tag; no tag and no digest means `latest`, as a container runtime reads it. */
export function formatImageRef(r: ImageRef): string {
  if (r.digest !== undefined) return `${r.repository}@${r.digest}`;
  return `${r.repository}:${r.tag ?? "latest"}`;
}

/** The spec's fields over a base image; a tag starting with `sha256:` is a digest (older manifests). */
export function resolveTierImage(fields: TierImageFields, base: string): string {
  const b = parseImageRef(base);
  const legacyDigest = fields.tag?.startsWith("sha256:") === true;
  const own = fields.tag !== undefined || fields.digest !== undefined;
  const version: ImageRef = own
    ? {
        repository: "",
        ...(fields.tag !== undefined && !legacyDigest ? { tag: fields.tag } : {}),
        ...(fields.digest !== undefined || legacyDigest ? { digest: fields.digest ?? fields.tag } : {}),
      }
    : b;
  const out: ImageRef = { repository: fields.repository ?? b.repository };
  if (version.tag !== undefined) out.tag = version.tag;
  if (version.digest !== undefined) out.digest = version.digest;
  return formatImageRef(out);
}

export function resolveImages(i: ImageInputs): TierImages {
  const base = (tier: keyof TierImages) =>
    i.policy === "FollowOperator" ? i.defaultImage : (i.recorded[tier] ?? i.defaultImage);
  return {
    gateway: resolveTierImage(i.fields.gateway, base("gateway")),
    logic: resolveTierImage(i.fields.logic, base("logic")),
  };
}
