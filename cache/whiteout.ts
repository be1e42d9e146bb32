/** OCI layer whiteout names and their overlayfs counterparts. */
export const WHITEOUT_PREFIX = '.wh.';
/** Marks a directory whose lower-layer contents are hidden. */
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
/** Other `.wh..wh.` names are aufs bookkeeping and are ignored. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';
/** overlayfs marks an opaque directory in an upper dir with this xattr = 'y'. */
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
/** overlayfs xattrs that mean the upper entry is incomplete without its lower. */
export const OVERLAY_REDIRECT_XATTR = 'trusted.overlay.redirect';
export const OVERLAY_METACOPY_XATTR = 'trusted.overlay.metacopy';
