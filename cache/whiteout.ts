import { inUserNamespace } from '../runner-native/user-namespace.js';
/** OCI layer whiteout names and their overlayfs counterparts. */
export const WHITEOUT_PREFIX = '.wh.';
/** Marks a directory whose lower-layer contents are hidden. */
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
/** Other `.wh..wh.` names are aufs bookkeeping and are ignored. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';
/**
 * overlayfs' own xattrs: trusted.overlay.* for root, user.overlay.* in a
 * user namespace (rootless mode mounts with userxattr: trusted.* is out of
 * reach there).
 */
export const OVERLAY_XATTR_PREFIX = inUserNamespace() ? 'user.overlay.' : 'trusted.overlay.';
/** overlayfs marks an opaque directory in an upper dir with this xattr = 'y'. */
export const OVERLAY_OPAQUE_XATTR = `${OVERLAY_XATTR_PREFIX}opaque`;
/** overlayfs xattrs that mean the upper entry is incomplete without its lower. */
export const OVERLAY_REDIRECT_XATTR = `${OVERLAY_XATTR_PREFIX}redirect`;
export const OVERLAY_METACOPY_XATTR = `${OVERLAY_XATTR_PREFIX}metacopy`;
