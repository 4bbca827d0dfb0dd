"""PLACEHOLDER: being written; replace this whole file."""



def batchnorm_forward(*args, **kwargs):
    raise NotImplementedError("batchnorm_forward")


def batchnorm_backward(*args, **kwargs):
    raise NotImplementedError("batchnorm_backward")


def batchnorm_backward_alt(*args, **kwargs):
    raise NotImplementedError("batchnorm_backward_alt")
