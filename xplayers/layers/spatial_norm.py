"""PLACEHOLDER: being written; replace this whole file."""



def spatial_batchnorm_forward(*args, **kwargs):
    raise NotImplementedError("spatial_batchnorm_forward")


def spatial_batchnorm_backward(*args, **kwargs):
    raise NotImplementedError("spatial_batchnorm_backward")


def spatial_groupnorm_forward(*args, **kwargs):
    raise NotImplementedError("spatial_groupnorm_forward")


def spatial_groupnorm_backward(*args, **kwargs):
    raise NotImplementedError("spatial_groupnorm_backward")
