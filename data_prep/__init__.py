"""Scripts that build the fixed mask test sets (``make_masks``) and fetch or index the papers'
real datasets (``datasets``). See data_prep/README.md."""
